from django.urls import path

from provisioning import views

urlpatterns = [
    path("", views.my_access, name="my_access"),
    path("request/", views.request_access, name="request_access"),
    path("approvals/", views.approvals, name="approvals"),
    path("operations/", views.operations, name="operations"),
    path("catalogue/", views.catalogue, name="catalogue"),
]
