from csp.decorators import csp_update
from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView

from annotation.web import ops_urls as annotation_ops_urls
from annotation.web import portal_urls as annotation_portal_urls
from billing.urls import billing_urls, staff_urls
from billing.web import urls as billing_web_urls
from clients.api import views as client_views
from clients.web import auth as web_auth
from clients.web import urls as clients_web_urls
from clients.web import views as clients_web_views
from config import views

# Pages (server-rendered): the client portal and the operators' dashboards; the annotator
# workspace lives under /work/.
portal_pages = [
    *annotation_portal_urls.urlpatterns,
    *clients_web_urls.urlpatterns,
    *billing_web_urls.portal_urls,
]
ops_pages = [*annotation_ops_urls.urlpatterns, *billing_web_urls.ops_urls]

api_v1 = [
    path("", include("annotation.api.urls")),
    path("api-keys", client_views.ApiKeyListView.as_view(), name="api-key-list"),
    path("api-keys/<str:key_id>/revoke", client_views.ApiKeyRevokeView.as_view(), name="api-key-revoke"),
    path("deliveries", client_views.DeliveryListView.as_view(), name="delivery-list"),
    path("client", client_views.ClientCredentialsView.as_view(), name="client-credentials"),
    path("billing/", include(billing_urls)),
    path("staff/", include(staff_urls)),
    path("staff/reports/annotator-pay", include("annotation.api.reports")),
    path("staff/", include("annotation.api.staff_urls")),
]

urlpatterns = [
    # First: Django tries the patterns in order, and the annotators' work loop is most of the traffic.
    path("api/v1/", include(api_v1)),
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),  # PostgreSQL and broker, separately
    path("login/", web_auth.SignInView.as_view(), name="login"),
    path("logout/", web_auth.SignOutView.as_view(), name="logout"),
    path("password-reset/", web_auth.PasswordResetView.as_view(), name="password_reset"),
    path("password-reset/sent/", web_auth.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path(
        "password-reset/<uidb64>/<token>/",
        web_auth.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "password-reset/done/", web_auth.PasswordResetCompleteView.as_view(), name="password_reset_complete"
    ),
    path("invitations/<str:token>/", clients_web_views.invitation_accept, name="invitation-accept"),
    path("signup/", clients_web_views.signup, name="signup"),
    path("signup/verify/<uidb64>/<token>/", clients_web_views.signup_verify, name="signup-verify"),
    path("portal/", include(portal_pages)),
    path("ops/", include(ops_pages)),
    path("work/", include("annotation.web.workspace_urls")),  # the annotator workspace
    path("admin/", admin.site.urls),
    path("v1/", include("annotation.scale_api.urls")),  # Scale-compatible: docs/scale-compatibility.md
    path("v2/", include("annotation.scale_api.v2.urls")),  # Scale's v2 (GenAI) API, for the SDK's client.v2
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # Swagger UI as HTML plus a script from the same URL, so the Content-Security-Policy needs no exception.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="swagger-ui"),
    # Redoc starts from an inline script and runs a web worker from a blob: URL.
    path(
        "api/redoc/",
        csp_update({"script-src": ["'unsafe-inline'"], "worker-src": ["blob:"]})(
            SpectacularRedocView.as_view(url_name="schema")
        ),
        name="redoc",
    ),
]

if settings.QUORUM_STORAGE == "filesystem":
    # Uploaded attachments on the local filesystem, served by Django in development only
    # (``static()`` adds nothing unless DEBUG); production serves MEDIA_ROOT from the proxy or uses S3.
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)

handler403 = "clients.web.errors.permission_denied"
handler404 = "config.views.not_found"
handler500 = "config.views.server_error"
