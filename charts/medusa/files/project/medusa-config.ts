import { defineConfig, loadEnv, Modules } from "@medusajs/framework/utils"

// Everything comes from the environment the chart (or the recipe test) sets;
// a .env beside the server is only a fallback for running it by hand.
loadEnv(process.env.NODE_ENV || "production", process.cwd())

const storeUrl = process.env.STORE_URL || "http://localhost:9000"
const redisUrl = process.env.REDIS_URL

module.exports = defineConfig({
  projectConfig: {
    databaseUrl: process.env.DATABASE_URL,
    // redisUrl alone only moves sessions to Redis; the event bus, locking,
    // cache and workflow engine need their own module entries below.
    redisUrl,
    // Medusa marks the admin's session cookie Secure in production; a store
    // served over plain HTTP (a local kind cluster) would then never keep the
    // login. Secure follows the store's own scheme instead.
    cookieOptions: { secure: storeUrl.startsWith("https://") },
    workerMode: (process.env.MEDUSA_WORKER_MODE as "shared" | "worker" | "server") || "shared",
    http: {
      // One host serves everything (storefront, admin, APIs), so every CORS
      // list is that origin.
      storeCors: storeUrl,
      adminCors: storeUrl,
      authCors: storeUrl,
      jwtSecret: process.env.JWT_SECRET || "supersecret",
      cookieSecret: process.env.COOKIE_SECRET || "supersecret",
    },
  },
  admin: {
    path: "/app",
    // "/" is the browser's own origin: the admin and the API share the store's
    // host, so the built admin does not depend on the store's URL and one
    // build (or a prebuilt image) serves every store.
    backendUrl: "/",
    disable: process.env.MEDUSA_ADMIN_DISABLE === "true",
  },
  modules: redisUrl
    ? [
        {
          resolve: "@medusajs/medusa/event-bus-redis",
          options: { redisUrl },
        },
        {
          resolve: "@medusajs/medusa/cache-redis",
          options: { redisUrl },
        },
        {
          resolve: "@medusajs/medusa/workflow-engine-redis",
          options: { redis: { redisUrl } },
        },
        {
          resolve: "@medusajs/medusa/locking",
          options: {
            providers: [
              {
                resolve: "@medusajs/medusa/locking-redis",
                id: "locking-redis",
                is_default: true,
                options: { redisUrl },
              },
            ],
          },
        },
      ]
    : [],
})
