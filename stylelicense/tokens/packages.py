"""Token packages: defined on the server only (the client sends a package id, never a price)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Package:
    id: str
    tokens: int
    price: int  # minor units of `currency` (KRW has none)
    currency: str = "KRW"

    @property
    def order_name(self) -> str:
        return f"Style License {self.tokens:,} tokens"


PACKAGES: dict[str, Package] = {
    package.id: package
    for package in (
        Package("basic_100", 100, 10_000),
        Package("standard_500", 500, 45_000),
        Package("premium_1000", 1000, 80_000),
    )
}


def get_package(package_id: str) -> Package | None:
    return PACKAGES.get(package_id)
