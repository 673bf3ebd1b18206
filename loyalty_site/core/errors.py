"""One error hierarchy for every service. Each error carries the stable API code and HTTP status.

Services raise these; the API's exception handler renders them as
`{"error": {"code", "message", "fields"?}}`; the admin and the till show `message`.
Services never import DRF.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _


class LoyaltyError(Exception):
    code = "error"
    status = 400
    default_message = _("The request could not be processed.")

    def __init__(self, message: str | None = None, *, fields: dict[str, list[str]] | None = None):
        # in the language active where it is raised: the request's (API, till, admin)
        self.message = str(message or self.default_message)
        self.fields = fields
        super().__init__(self.message)

    def as_dict(self) -> dict:
        error: dict = {"code": self.code, "message": self.message}
        if self.fields:
            error["fields"] = self.fields
        return {"error": error}


class InvalidInput(LoyaltyError):
    code, status, default_message = "invalid", 400, _("The input is not valid.")


class UnsupportedCurrency(LoyaltyError):
    code, status, default_message = "unsupported_currency", 400, _("This currency is not supported.")


class NotFound(LoyaltyError):
    code, status, default_message = "not_found", 404, _("Not found.")


class Duplicate(LoyaltyError):
    code, status, default_message = "duplicate", 409, _("This already exists.")


class IdempotencyConflict(LoyaltyError):
    code, status = "idempotency_conflict", 409
    default_message = _("This key or reference was already used with a different request.")


class InProgress(LoyaltyError):
    code, status = "in_progress", 409
    default_message = _("A request with this key is still being processed.")


class BusinessRuleError(LoyaltyError):
    status = 422


class InsufficientPoints(BusinessRuleError):
    code, default_message = "insufficient_points", _("The member does not have enough points.")


class LimitExceeded(BusinessRuleError):
    code, default_message = "limit_exceeded", _("This would exceed a limit.")


class MemberBlocked(BusinessRuleError):
    code, default_message = "member_blocked", _("The member is blocked.")


class CouponInvalid(BusinessRuleError):
    code, default_message = "coupon_invalid", _("The coupon is not valid.")


class CouponExpired(BusinessRuleError):
    code, default_message = "coupon_expired", _("The coupon has expired.")


class CouponUsed(BusinessRuleError):
    code, default_message = "coupon_used", _("The coupon has already been used.")


class RefundExceedsPurchase(BusinessRuleError):
    code, default_message = "refund_exceeds_purchase", _("The refund exceeds what is left of the purchase.")


class OutOfStock(BusinessRuleError):
    code, default_message = "out_of_stock", _("This reward is out of stock.")


class RewardUnavailable(BusinessRuleError):
    code, default_message = "reward_unavailable", _("This reward is not available to this member now.")


class RedemptionClosed(LoyaltyError):
    code, status = "redemption_closed", 409
    default_message = _("This redemption is already fulfilled or cancelled.")
