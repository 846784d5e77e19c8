from django.contrib import admin

from parley.rooms.models import Membership, Room

admin.site.register(Room)
admin.site.register(Membership)
