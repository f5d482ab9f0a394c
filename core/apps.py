from django.apps import AppConfig
from django.core import checks
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "core"
    verbose_name = _("Mailing service")

    def ready(self) -> None:
        from core import checks as core_checks

        checks.register(core_checks.deliverability_when_not_debug, checks.Tags.compatibility)
        checks.register(core_checks.deliverability_for_deploy, checks.Tags.security, deploy=True)
        checks.register(core_checks.dkim_key)
