"""The placeholder that stored items carry where a URL names the server.

Items are stored once as the exports serve them, but their ``url`` (and every link) names the host the client
asked: the placeholder is written in their place and replaced per answer with the request's own scheme and host
(``api.responses``). It lives here, apart from storage and domain, because both write it and the HTTP layer reads it.
"""

URL_BASE = "deskstream://host"
