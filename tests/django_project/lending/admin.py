"""The admin of the lending app, with privacy_kit's export action on members."""

from __future__ import annotations

from django.contrib import admin

from privacy_kit.contrib.django import export_personal_data

from .models import Member


@admin.register(Member)
class MemberAdmin(admin.ModelAdmin):
    actions = [export_personal_data("customer", "member_id", "pk")]
