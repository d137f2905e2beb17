from django.urls import include, path

from provisioning.catalogue import views as catalogue
from provisioning.credentials import views as credentials
from provisioning.lifecycle import grant_views as grants
from provisioning.lifecycle import review_views as reviews
from provisioning.offboarding import views as offboarding
from provisioning.operations import views as operations
from provisioning.requests import views as requests
from provisioning.scim import views as scim

urlpatterns = [
    path("", requests.my_access, name="my_access"),
    path("live/", requests.my_access_live, name="my_access_live"),
    path(
        "requests/<int:pk>/cancel/",
        requests.access_request_cancel_view,
        name="access_request_cancel",
    ),
    path("request/", requests.request_access, name="request_access"),
    path("approvals/", requests.approvals, name="approvals"),
    path("approvals/decide/", requests.approvals_decide, name="approvals_decide"),
    path("approvals/<int:pk>/reject/", requests.approvals_reject, name="approvals_reject"),
    path("approvals/history/", requests.approvals_history, name="approvals_history"),
    path("operations/", operations.operations, name="operations"),
    path(
        "operations/requests/<int:pk>/retry/", operations.operations_retry, name="operations_retry"
    ),
    path(
        "operations/accounts/<int:pk>/reissue/",
        operations.operations_reissue,
        name="operations_reissue",
    ),
    path("credentials/<str:token>/", credentials.credential_link, name="credential_link"),
    path("catalogue/", catalogue.catalogue, name="catalogue"),
    path("catalogue/new/", catalogue.catalogue_create, name="catalogue_create"),
    path("catalogue/<int:pk>/edit/", catalogue.catalogue_edit, name="catalogue_edit"),
    path("catalogue/sync/", catalogue.catalogue_sync_to_aws, name="catalogue_sync"),
    path("people/<int:person_id>/", offboarding.person_access, name="person_access"),
    path("people/<int:person_id>/offboard/", offboarding.offboard_person, name="offboard_person"),
    path("offboarding/", offboarding.offboardings, name="offboardings"),
    path(
        "offboarding/scheduled/<int:pk>/cancel/",
        offboarding.offboarding_schedule_cancel_view,
        name="offboarding_schedule_cancel",
    ),
    path("offboarding/<int:pk>/", offboarding.offboarding_detail, name="offboarding_detail"),
    path(
        "offboarding/<int:pk>/confirm/",
        offboarding.offboarding_confirm_view,
        name="offboarding_confirm",
    ),
    path(
        "offboarding/<int:pk>/decline/",
        offboarding.offboarding_decline_view,
        name="offboarding_decline",
    ),
    path(
        "offboarding/<int:pk>/report.json",
        offboarding.offboarding_report_json_download,
        name="offboarding_report_json",
    ),
    path("scim/tokens/", scim.scim_tokens_page, name="scim_tokens"),
    path("scim/tokens/<int:pk>/revoke/", scim.scim_token_revoke_view, name="scim_token_revoke"),
    path("leavers/", scim.idp_leavers, name="idp_leavers"),
    path(
        "offboarding/<int:pk>/report.csv",
        offboarding.offboarding_report_csv_download,
        name="offboarding_report_csv",
    ),
    path("", include("provisioning.guardrails.urls")),
    # Access over time (provisioning/lifecycle).
    path("grants/", grants.grants_held, name="grants_held"),
    path("grants/<int:pk>/extend/", grants.grant_extend, name="grant_extend"),
    path("grants/<int:pk>/give-up/", grants.grant_relinquish_view, name="grant_relinquish"),
    path("grants/<int:pk>/revoke/", grants.grant_revoke_view, name="grant_revoke"),
    path("temporary/", grants.request_elevation, name="request_elevation"),
    path("reviews/", reviews.my_reviews, name="my_reviews"),
    path(
        "reviews/items/<int:pk>/decide/",
        reviews.review_item_decide_view,
        name="review_item_decide",
    ),
    path("reviews/campaigns/", reviews.access_reviews, name="access_reviews"),
    path("reviews/campaigns/new/", reviews.access_review_new, name="access_review_new"),
    path("reviews/campaigns/<int:pk>/", reviews.access_review_detail, name="access_review_detail"),
    path(
        "reviews/campaigns/<int:pk>/report/",
        reviews.access_review_report,
        name="access_review_report",
    ),
    path(
        "reviews/campaigns/<int:pk>/report.csv",
        reviews.access_review_report_csv_download,
        name="access_review_report_csv",
    ),
]
