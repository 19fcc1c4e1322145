"""Server-rendered pages of the clients app (sign-in, API keys, webhooks) and the pieces every
app's pages share: access checks for pages (``access``) and readable error rendering (``errors``).
The pages call the same services and selectors as the API; they hold no domain logic."""
