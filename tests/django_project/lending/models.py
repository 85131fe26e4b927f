"""A lending library's models; privacy/datamap.yaml describes them to privacy_kit."""

from __future__ import annotations

from django.db import models


class Member(models.Model):
    full_name = models.CharField(max_length=200)
    email = models.CharField(max_length=200, null=True)
    card_number = models.CharField(max_length=20, unique=True)
    joined_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True)


class Loan(models.Model):
    # The database keeps this foreign key: privacy_kit deletes loans before their member.
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="loans")
    book_title = models.CharField(max_length=300)
    borrowed_at = models.DateTimeField()
    returned_at = models.DateTimeField(null=True)


class Fine(models.Model):
    # A plain number, not a foreign key: accounting law keeps fees after the member is erased.
    member_id = models.BigIntegerField()
    amount_cents = models.IntegerField()
    issued_at = models.DateTimeField()
