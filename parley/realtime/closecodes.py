"""WebSocket close codes Parley uses (docs/protocol.md). 4xxx codes are ours; 1xxx are RFC 6455."""

BAD_REQUEST = 4400  # the URL names no valid room (tutorial routes)
UNAUTHENTICATED = 4401  # not signed in, or the session ended (logout)
FORBIDDEN = 4403  # foreign origin, banned, or guest access turned off
TOO_SLOW = 4408  # the client stopped reading and its pending data passed the limit
TOO_MANY_CONNECTIONS = 4429  # too many sockets of this user here, or guests from this address
TOO_LARGE = 1009  # a frame above the server's hard limit (uvicorn --ws-max-size)
RESTARTING = 1012  # server restarting: reconnect and resume
TRY_AGAIN_LATER = 1013  # the database did not answer the handshake in time: reconnect with backoff
