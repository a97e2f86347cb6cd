// Compiles the command-line code's precompiled header (cmake/pgstack.cmake, pgstack_cli_pch).
