# The seed's own test class, copied unchanged from the seed document
# (shared/seed/000_99b77c2f68d8b52f.txt, "Testing Strategies") except for the
# import lines: `AsyncInMemoryCache` now comes from `sweepcache.compat`, and
# `asyncio`, which the seed's snippet used without importing, is imported.
# It runs under pytest-asyncio in auto mode (`make test` runs this folder
# separately), because its async fixture is a plain `@pytest.fixture`.
# ruff: noqa
# mypy: ignore-errors
import asyncio

import pytest
from sweepcache.compat import AsyncInMemoryCache

class TestAsyncInMemoryCache:
    """Comprehensive cache testing."""

    @pytest.fixture
    async def cache(self):
        return AsyncInMemoryCache[str, dict]()

    @pytest.mark.asyncio
    async def test_basic_operations(self, cache):
        """Test basic cache operations."""
        # Test set and get
        test_data = {"key": "value", "number": 42}
        await cache.set("test_key", test_data, ttl=60.0)

        result = await cache.get("test_key")
        assert result == test_data

    @pytest.mark.asyncio
    async def test_expiration(self, cache):
        """Test TTL expiration."""
        await cache.set("expire_key", {"data": "test"}, ttl=0.1)  # 100ms

        # Should be available immediately
        result = await cache.get("expire_key")
        assert result is not None

        # Wait for expiration
        await asyncio.sleep(0.2)

        # Should be expired
        result = await cache.get("expire_key")
        assert result is None

    @pytest.mark.asyncio
    async def test_concurrent_access(self, cache):
        """Test thread safety under concurrent access."""
        async def set_operation(i):
            await cache.set(f"key_{i}", {"value": i}, ttl=60.0)

        async def get_operation(i):
            return await cache.get(f"key_{i}")

        # Concurrent set operations
        await asyncio.gather(*[set_operation(i) for i in range(100)])

        # Concurrent get operations
        results = await asyncio.gather(*[get_operation(i) for i in range(100)])

        # Verify all operations completed successfully
        for i, result in enumerate(results):
            assert result == {"value": i}

    @pytest.mark.asyncio
    async def test_clear_cache(self, cache):
        """Test cache clearing."""
        # Add multiple entries
        for i in range(10):
            await cache.set(f"key_{i}", {"value": i}, ttl=60.0)

        # Verify entries exist
        result = await cache.get("key_5")
        assert result is not None

        # Clear cache
        await cache.clear()

        # Verify all entries are gone
        for i in range(10):
            result = await cache.get(f"key_{i}")
            assert result is None
