"""The server starts and answers as the documented admin."""

import httpx


def test_the_documented_admin_can_read_itself(admin: httpx.Client) -> None:
    response = admin.get("/api/v2/users/me.json")
    assert response.status_code == 200
    assert response.json()["user"]["email"] == "admin@example.com"
    assert response.json()["user"]["url"].startswith(str(admin.base_url))
