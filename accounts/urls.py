from django.urls import path

from accounts import views

urlpatterns = [
    path("", views.people_directory, name="people_directory"),
    path("import/", views.people_import, name="people_import"),
    path("<int:pk>/", views.person_detail, name="person_detail"),
    path("<int:pk>/edit/", views.person_edit, name="person_edit"),
]
