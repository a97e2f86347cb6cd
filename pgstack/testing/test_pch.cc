// Compiles the precompiled header every test binary shares (cmake/pgstack.cmake): the
// heavy headers tests include (GoogleTest, GoogleMock, nlohmann/json, fmt), parsed once
// per build instead of once per test file.
