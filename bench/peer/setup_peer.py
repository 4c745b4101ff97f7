"""Creates the peer's database and fixture: a user with a password, a password-grant
application and a client_credentials application (client secrets stored unhashed, so only the
password grant pays the password hash), then prints them as JSON."""
import json, os, sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "peersite")
import django  # noqa: E402

django.setup()
from django.core.management import call_command  # noqa: E402
from django.contrib.auth.models import User  # noqa: E402
from oauth2_provider.models import Application  # noqa: E402

call_command("migrate", verbosity=0)
password, secret = sys.argv[1], sys.argv[2]
user = User.objects.create_user("dealer", "dealer@bench.example", password)
fields = dict(client_type=Application.CLIENT_CONFIDENTIAL, client_secret=secret, hash_client_secret=False, user=user)
Application.objects.create(name="bench", client_id="bench", authorization_grant_type=Application.GRANT_PASSWORD, **fields)
Application.objects.create(name="benchcc", client_id="benchcc", authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS, **fields)
print(json.dumps({"password_hash_algorithm": user.password.split("$")[0], "rounds": int(user.password.split("$")[1])}))
