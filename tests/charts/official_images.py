"""Tags the Docker official-images library lists, as recorded for the chart pins.

Copied from github.com/docker-library/official-images at 37079fb336f572a88700cf32e5e1f6be54a04e8f (2026-08-21):
`library/wordpress` last changed in 7a0406e77fe3ba176f4ac37c0cfae69db68beb23 (2026-08-20),
`library/mariadb` in 512a9917812f5e256f0ff3aa8d876610ed0f27d8 (2026-08-13);
for charts/medusa, the lines of its pins: `library/node` last changed in
5aa45c8629454fbcd128b0d8702747af6f55f65f (2026-08-05), `library/postgres` in
62e3678b4b5f889cc5d36fe0fc4599c277e1f875 (2026-08-13), `library/redis` in
32dbe4eb08739ff48023b8e0d5620c2bd5146ca3 (2026-08-18).
Refresh it with the chart's pins (charts/woocommerce/README.md, "Image pins").
"""

LIBRARY_COMMIT = "37079fb336f572a88700cf32e5e1f6be54a04e8f"

LIBRARY_TAGS: dict[str, frozenset[str]] = {
    "wordpress": frozenset({
        "7.1.0-php8.2-apache", "7.1-php8.2-apache", "7-php8.2-apache", "php8.2-apache", "7.1.0-php8.2",
        "7.1-php8.2", "7-php8.2", "php8.2", "7.1.0-php8.2-fpm", "7.1-php8.2-fpm", "7-php8.2-fpm",
        "php8.2-fpm", "7.1.0-php8.2-fpm-alpine", "7.1-php8.2-fpm-alpine", "7-php8.2-fpm-alpine",
        "php8.2-fpm-alpine", "7.1.0-apache", "7.1-apache", "7-apache", "apache", "7.1.0", "7.1", "7",
        "latest", "7.1.0-php8.3-apache", "7.1-php8.3-apache", "7-php8.3-apache", "php8.3-apache",
        "7.1.0-php8.3", "7.1-php8.3", "7-php8.3", "php8.3", "7.1.0-fpm", "7.1-fpm", "7-fpm", "fpm",
        "7.1.0-php8.3-fpm", "7.1-php8.3-fpm", "7-php8.3-fpm", "php8.3-fpm", "7.1.0-fpm-alpine",
        "7.1-fpm-alpine", "7-fpm-alpine", "fpm-alpine", "7.1.0-php8.3-fpm-alpine", "7.1-php8.3-fpm-alpine",
        "7-php8.3-fpm-alpine", "php8.3-fpm-alpine", "7.1.0-php8.4-apache", "7.1-php8.4-apache",
        "7-php8.4-apache", "php8.4-apache", "7.1.0-php8.4", "7.1-php8.4", "7-php8.4", "php8.4",
        "7.1.0-php8.4-fpm", "7.1-php8.4-fpm", "7-php8.4-fpm", "php8.4-fpm", "7.1.0-php8.4-fpm-alpine",
        "7.1-php8.4-fpm-alpine", "7-php8.4-fpm-alpine", "php8.4-fpm-alpine", "7.1.0-php8.5-apache",
        "7.1-php8.5-apache", "7-php8.5-apache", "php8.5-apache", "7.1.0-php8.5", "7.1-php8.5", "7-php8.5",
        "php8.5", "7.1.0-php8.5-fpm", "7.1-php8.5-fpm", "7-php8.5-fpm", "php8.5-fpm",
        "7.1.0-php8.5-fpm-alpine", "7.1-php8.5-fpm-alpine", "7-php8.5-fpm-alpine", "php8.5-fpm-alpine",
        "cli-2.12.0-php8.2", "cli-2.12-php8.2", "cli-2-php8.2", "cli-php8.2", "cli-2.12.0", "cli-2.12",
        "cli-2", "cli", "cli-2.12.0-php8.3", "cli-2.12-php8.3", "cli-2-php8.3", "cli-php8.3",
        "cli-2.12.0-php8.4", "cli-2.12-php8.4", "cli-2-php8.4", "cli-php8.4", "cli-2.12.0-php8.5",
        "cli-2.12-php8.5", "cli-2-php8.5", "cli-php8.5",
    }),
    "mariadb": frozenset({
        "13.0.1-ubi10-rc", "13.0-ubi10-rc", "13.0.1-ubi-rc", "13.0-ubi-rc", "13.0.1-resolute-rc",
        "13.0-resolute-rc", "13.0.1-rc", "13.0-rc", "12.3.2-ubi10", "12.3-ubi10", "12-ubi10", "lts-ubi10",
        "12.3.2-ubi", "12.3-ubi", "12-ubi", "lts-ubi", "12.3.2-noble", "12.3-noble", "12-noble", "noble",
        "lts-noble", "12.3.2", "12.3", "12", "latest", "lts", "11.8.8-ubi9", "11.8-ubi9", "11-ubi9",
        "11.8.8-ubi", "11.8-ubi", "11-ubi", "11.8.8-noble", "11.8-noble", "11-noble", "11.8.8", "11.8", "11",
        "11.4.12-ubi9", "11.4-ubi9", "11.4.12-ubi", "11.4-ubi", "11.4.12-noble", "11.4-noble", "11.4.12",
        "11.4", "10.11.18-ubi9", "10.11-ubi9", "10-ubi9", "10.11.18-ubi", "10.11-ubi", "10-ubi",
        "10.11.18-jammy", "10.11-jammy", "10-jammy", "10.11.18", "10.11", "10", "10.6.28-ubi9", "10.6-ubi9",
        "10.6.28-ubi", "10.6-ubi", "10.6.28-jammy", "10.6-jammy", "10.6.28", "10.6",
    }),
    "node": frozenset({"22-bookworm-slim", "22-slim", "22.23-bookworm-slim", "22.23-slim", "22.23.2-bookworm-slim", "22.23.2-slim", "jod-bookworm-slim", "jod-slim"}),
    "postgres": frozenset({"17.11-bookworm", "17-bookworm"}),
    "redis": frozenset({"8.2.9", "8.2", "8.2.9-bookworm", "8.2-bookworm"}),
}
