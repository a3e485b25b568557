import { defineConfig, loadEnv } from "@medusajs/framework/utils"

// Everything comes from the environment the chart (or the recipe test) sets;
// a .env beside the server is only a fallback for running it by hand.
loadEnv(process.env.NODE_ENV || "production", process.cwd())

// A missing secret stops the server instead of falling back to a value anyone
// could guess. `medusa build` loads this file too, with no secrets: setup.sh
// gives the build placeholders that sign nothing.
function required(name: string): string {
  const value = process.env[name]
  if (!value) throw new Error(`${name} is not set: the store's secret must provide it`)
  return value
}

const storeUrl = required("STORE_URL").replace(/\/+$/, "")
const redisUrl = required("REDIS_URL")
// server: the HTTP API and the admin; worker: subscribers, scheduled jobs and
// workflows in the background; shared: both in one process (the recipe test).
const workerMode = (process.env.MEDUSA_WORKER_MODE as "shared" | "worker" | "server") || "shared"

// The platform's SMTP relay (the store's Secret "store-mail"): with it, the
// Notification Module sends the shop's mails through the project's own
// provider (src/modules/smtp-notification); without it, no module, no mail.
const mailHost = process.env.STORE_MAIL_HOST
const mailModules = mailHost
  ? [
      {
        resolve: "@medusajs/medusa/notification",
        options: {
          providers: [
            {
              resolve: "./src/modules/smtp-notification",
              id: "smtp",
              options: {
                channels: ["email"],
                host: mailHost,
                port: Number(process.env.STORE_MAIL_PORT || 587),
                security: process.env.STORE_MAIL_SECURITY || "starttls",
                username: process.env.STORE_MAIL_USERNAME || "",
                password: process.env.STORE_MAIL_PASSWORD || "",
                from: required("STORE_MAIL_FROM"),
              },
            },
          ],
        },
      },
    ]
  : []

module.exports = defineConfig({
  projectConfig: {
    databaseUrl: required("DATABASE_URL"),
    // redisUrl alone only moves sessions to Redis; the event bus, locking,
    // caching and workflow engine need their own module entries below.
    redisUrl,
    // Medusa marks the admin's session cookie Secure in production; a store
    // served over plain HTTP (a local kind cluster) would then never keep the
    // login. Secure follows the store's own scheme instead.
    cookieOptions: { secure: storeUrl.startsWith("https://") },
    workerMode,
    http: {
      // One host serves everything (storefront, admin, APIs), so every CORS
      // list is that origin.
      storeCors: storeUrl,
      adminCors: storeUrl,
      authCors: storeUrl,
      jwtSecret: required("JWT_SECRET"),
      cookieSecret: required("COOKIE_SECRET"),
    },
  },
  // The Caching Module replaces the Cache Module, deprecated since 2.11.
  featureFlags: { caching: true },
  admin: {
    path: "/app",
    // "/" is the browser's own origin: the admin and the API share the store's
    // host, so the built admin does not depend on the store's URL and one
    // build (or one image) serves every store.
    backendUrl: "/",
    // The worker serves no HTTP.
    disable: workerMode === "worker" || process.env.MEDUSA_ADMIN_DISABLE === "true",
  },
  modules: [
    {
      // Uploads (product images) go to the store's volume, never into the
      // build (`medusa build` empties it), and their links are on the store's
      // own URL: the server serves them at /static.
      resolve: "@medusajs/medusa/file",
      options: {
        providers: [
          {
            resolve: "@medusajs/medusa/file-local",
            id: "local",
            options: {
              upload_dir: process.env.UPLOAD_DIR || "static",
              backend_url: `${storeUrl}/static`,
            },
          },
        ],
      },
    },
    { resolve: "@medusajs/medusa/event-bus-redis", options: { redisUrl } },
    { resolve: "@medusajs/medusa/workflow-engine-redis", options: { redis: { redisUrl } } },
    {
      resolve: "@medusajs/medusa/caching",
      options: {
        providers: [{ resolve: "@medusajs/caching-redis", id: "caching-redis", is_default: true, options: { redisUrl } }],
      },
    },
    {
      resolve: "@medusajs/medusa/locking",
      options: {
        providers: [
          { resolve: "@medusajs/medusa/locking-redis", id: "locking-redis", is_default: true, options: { redisUrl } },
        ],
      },
    },
    ...mailModules,
  ],
})
