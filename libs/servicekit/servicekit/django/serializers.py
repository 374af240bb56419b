"""Serializer bases every service's API layer uses: a request body field the endpoint does not know is refused.

DRF drops unknown keys silently, so a typo ("languge": "ru") or a field of another endpoint passes as the default
and the client never learns. Here it is a 400 `validation-error` naming the field (code `unknown_field`) and what
the endpoint accepts, beside the body's other field errors. Read-only fields are known: a client that sends back what
a GET returned (id, created_at, ...) is not refused; DRF ignores those values as before.
"""
from __future__ import annotations

from collections.abc import Mapping

from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail


# Mixin for a DRF serializer (before the serializer class in the bases); nested serializers check their own. No
# docstrings on these classes: drf-spectacular takes an inherited one as every component's description.
class RejectUnknownFields:
    def to_internal_value(self, data):
        unknown = sorted(str(key) for key in data if key not in self.fields) if isinstance(data, Mapping) else []
        if not unknown:
            return super().to_internal_value(data)
        accepted = sorted(name for name, field in self.fields.items() if not field.read_only)
        hint = f"This request takes: {', '.join(accepted)}." if accepted else "This request takes no fields."
        errors = {key: [ErrorDetail(f"Unknown field. {hint}", code="unknown_field")] for key in unknown}
        try:
            super().to_internal_value(data)
        except serializers.ValidationError as exc:  # report the known fields' errors too, in one answer
            if isinstance(exc.detail, dict):
                errors |= {key: value for key, value in exc.detail.items() if key not in errors}
        raise serializers.ValidationError(errors)


class Serializer(RejectUnknownFields, serializers.Serializer):
    pass


class ModelSerializer(RejectUnknownFields, serializers.ModelSerializer):
    pass
