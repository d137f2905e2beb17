from django.urls import path

from accounts import invitation_views, views

urlpatterns = [
    path("", views.people_directory, name="people_directory"),
    path("import/", views.people_import, name="people_import"),
    path("new/", views.person_create, name="person_create"),
    path("<int:pk>/", views.person_detail, name="person_detail"),
    path("<int:pk>/edit/", views.person_edit, name="person_edit"),
    path("<int:pk>/invite/", invitation_views.person_invite, name="person_invite"),
]
