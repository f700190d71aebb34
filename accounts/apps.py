from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts and user movie lists"

    def ready(self) -> None:
        from accounts import (
            signals,  # noqa: F401  (connects the receivers)
            tasks,  # noqa: F401  (registers the background tasks in every process)
        )
