"""Production static files: `collectstatic` with the manifest storage, then every page that names a
static file renders with DEBUG off (a missing file or a dangling reference in a vendored asset makes
the manifest storage fail collectstatic, or answer 500 at render time)."""

import re
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import override_settings

BASE_DIR = Path(__file__).resolve().parents[2]
MANIFEST_STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}


@pytest.fixture
def production_static(tmp_path):
    with override_settings(
        DEBUG=False,
        STATIC_ROOT=str(tmp_path / "static"),
        STORAGES=MANIFEST_STORAGES,
        WHITENOISE_AUTOREFRESH=False,
    ):
        call_command("collectstatic", "--noinput", "-v0")
        yield tmp_path / "static"


def test_vendored_assets_name_no_missing_file():
    """A vendored file's source map or sourceURL must ship beside it (or the reference go)."""
    for path in list(BASE_DIR.glob("*/static/**/vendor/*.js")) + list(
        BASE_DIR.glob("*/static/**/vendor/*.css")
    ):
        for name in re.findall(r"sourceMappingURL=([^\s*]+)", path.read_text(errors="replace")):
            assert (path.parent / name).exists(), f"{path} names {name}, which is missing"


def test_pages_render_with_manifest_storage(production_static, client, member, staff_user, merchant):
    manifest = production_static / "staticfiles.json"
    assert manifest.exists()
    assert "reports/vendor/chart.umd.min.js" in manifest.read_text()

    for url in ["/admin/login/", "/cashier/login/", f"/card/{member.card_token}/", "/api/docs/"]:
        response = client.get(url)
        assert response.status_code == 200, url
        assert b"/static/" in response.content, url

    # The pages behind a login name static files too: the admin, the reports dashboard (Chart.js), the till.
    admin = get_user_model().objects.create_superuser("root", "root@example.com", "pw-12345!x")
    client.force_login(admin)
    for url in ["/admin/", "/admin/reports/"]:
        response = client.get(url)
        assert response.status_code == 200, url
    assert re.search(
        rb"/static/reports/vendor/chart\.umd\.min\.[0-9a-f]{12}\.js", client.get("/admin/reports/").content
    )
    client.force_login(staff_user(merchant, "cashier"))
    assert client.get("/cashier/").status_code == 200
