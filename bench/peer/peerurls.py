"""The peer's routes: the token endpoint and a bearer-protected GET."""
from django.http import JsonResponse
from django.urls import path
from oauth2_provider.views import TokenView
from oauth2_provider.views.generic import ProtectedResourceView


class Me(ProtectedResourceView):
    def get(self, request, *args, **kwargs):
        user = request.resource_owner
        return JsonResponse({"userId": user.pk, "email": user.email})


urlpatterns = [path("o/token/", TokenView.as_view()), path("me", Me.as_view())]
