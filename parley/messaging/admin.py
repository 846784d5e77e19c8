from django.contrib import admin

from parley.messaging.models import Event

admin.site.register(Event)
