from django.urls import path

from provisioning.views import catalogue, requests

urlpatterns = [
    path("", requests.my_access, name="my_access"),
    path("request/", requests.request_access, name="request_access"),
    path("approvals/", requests.approvals, name="approvals"),
    path("operations/", requests.operations, name="operations"),
    path("catalogue/", catalogue.catalogue, name="catalogue"),
]
