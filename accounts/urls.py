from django.urls import path

from accounts import views

urlpatterns = [
    path("", views.people_directory, name="people_directory"),
]
