"""The one reference implementation of great-circle distance, and the bounding box that prefilters it."""

from __future__ import annotations

import math
from dataclasses import dataclass

from core.domain.marketplace import GeoPoint

EARTH_RADIUS_KM = 6371.0088  # IUGG mean Earth radius


def haversine_km(a: GeoPoint, b: GeoPoint) -> float:
    lat1, lat2 = math.radians(a.latitude), math.radians(b.latitude)
    dlat = lat2 - lat1
    dlon = math.radians(b.longitude - a.longitude)
    h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


@dataclass(frozen=True, slots=True)
class BoundingBox:
    min_latitude: float
    max_latitude: float
    min_longitude: float
    max_longitude: float

    @property
    def crosses_antimeridian(self) -> bool:
        return self.min_longitude > self.max_longitude


def bounding_box(center: GeoPoint, radius_km: float) -> BoundingBox:
    """The smallest latitude/longitude box that contains every point within ``radius_km``.

    Near the poles the box widens to every longitude; across the antimeridian ``min_longitude``
    is greater than ``max_longitude``.
    """
    angular = radius_km / EARTH_RADIUS_KM
    lat = math.radians(center.latitude)
    min_lat, max_lat = lat - angular, lat + angular
    if min_lat <= -math.pi / 2 or max_lat >= math.pi / 2:
        return BoundingBox(
            math.degrees(max(min_lat, -math.pi / 2)), math.degrees(min(max_lat, math.pi / 2)), -180.0, 180.0
        )
    delta_lon = math.asin(min(1.0, math.sin(angular) / math.cos(lat)))
    min_lon = math.degrees(math.radians(center.longitude) - delta_lon)
    max_lon = math.degrees(math.radians(center.longitude) + delta_lon)
    if min_lon < -180.0:
        min_lon += 360.0
    if max_lon > 180.0:
        max_lon -= 360.0
    return BoundingBox(math.degrees(min_lat), math.degrees(max_lat), min_lon, max_lon)
