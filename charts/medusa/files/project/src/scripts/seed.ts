/**
 * The store's starting data, run by setup.sh with `medusa exec`.
 *
 * Every step looks first and creates only what is missing, so a second run
 * (a restarted setup Job, a retry after a failure half-way) changes nothing.
 * The publishable key's token is written to $APP_DIR/state/publishable-key
 * for the storefront, on every run, from whatever key exists.
 */
import fs from "fs"
import path from "path"
import { ExecArgs } from "@medusajs/framework/types"
import { ContainerRegistrationKeys, Modules, ProductStatus } from "@medusajs/framework/utils"
import {
  createApiKeysWorkflow,
  createInventoryLevelsWorkflow,
  createProductsWorkflow,
  createRegionsWorkflow,
  createSalesChannelsWorkflow,
  createShippingOptionsWorkflow,
  createShippingProfilesWorkflow,
  createStockLocationsWorkflow,
  createTaxRegionsWorkflow,
  linkSalesChannelsToApiKeyWorkflow,
  linkSalesChannelsToStockLocationWorkflow,
  updateStoresWorkflow,
} from "@medusajs/medusa/core-flows"

// The shop's country and currency (values shop.country and shop.currency,
// through the setup Job's SHOP_COUNTRY and SHOP_CURRENCY): one region sells
// in that currency and ships to that country. Only the first run decides:
// a store that has a region keeps it, whatever the values say later.
const SHOP_COUNTRY = (process.env.SHOP_COUNTRY || "US").toLowerCase()
const SHOP_CURRENCY = (process.env.SHOP_CURRENCY || "USD").toLowerCase()
// The manual provider every Medusa ships; the storefront presents it as
// "Cash on delivery".
const PAYMENT_PROVIDER = "pp_system_default"
const FULFILLMENT_PROVIDER = "manual_manual"
const SALES_CHANNEL_NAME = "Web shop"
const LOCATION_NAME = "Main warehouse"
const FULFILLMENT_SET_NAME = "Main warehouse delivery"
const SHIPPING_OPTION_NAME = "Standard delivery"
const API_KEY_TITLE = "Storefront"
const PRODUCT_HANDLE = "enamel-mug"
const STOCK = 100

export default async function seed({ container }: ExecArgs) {
  const logger = container.resolve(ContainerRegistrationKeys.LOGGER)
  const link: any = container.resolve(ContainerRegistrationKeys.LINK)
  const query: any = container.resolve(ContainerRegistrationKeys.QUERY)
  const storeModule: any = container.resolve(Modules.STORE)
  const salesChannelModule: any = container.resolve(Modules.SALES_CHANNEL)
  const regionModule: any = container.resolve(Modules.REGION)
  const taxModule: any = container.resolve(Modules.TAX)
  const stockLocationModule: any = container.resolve(Modules.STOCK_LOCATION)
  const fulfillmentModule: any = container.resolve(Modules.FULFILLMENT)
  const apiKeyModule: any = container.resolve(Modules.API_KEY)
  const productModule: any = container.resolve(Modules.PRODUCT)
  const created: string[] = []

  // Sales channel
  let [channel] = await salesChannelModule.listSalesChannels({ name: SALES_CHANNEL_NAME })
  if (!channel) {
    const { result } = await createSalesChannelsWorkflow(container).run({
      input: { salesChannelsData: [{ name: SALES_CHANNEL_NAME, description: "The shop's storefront" }] },
    })
    channel = result[0]
    created.push("sales channel")
  }

  // Region, with the manual payment provider: the store's one region, named
  // after its country ("Germany"), made on the first run.
  let [region] = await regionModule.listRegions({}, { relations: ["countries"], take: 1, order: { created_at: "ASC" } })
  if (!region) {
    const regionName = new Intl.DisplayNames(["en"], { type: "region" }).of(SHOP_COUNTRY.toUpperCase()) || SHOP_COUNTRY
    const { result } = await createRegionsWorkflow(container).run({
      input: {
        regions: [
          {
            name: regionName,
            currency_code: SHOP_CURRENCY,
            countries: [SHOP_COUNTRY],
            payment_providers: [PAYMENT_PROVIDER],
          },
        ],
      },
    })
    region = result[0]
    created.push(`region ${regionName} (${SHOP_COUNTRY.toUpperCase()}, ${SHOP_CURRENCY.toUpperCase()})`)
  }
  // What the rest is set up for: the region's, which an earlier run may have made.
  const CURRENCY: string = region.currency_code
  const [found] = await regionModule.listRegions({ id: region.id }, { relations: ["countries"] })
  const COUNTRIES: string[] = (found?.countries || []).map((c: any) => c.iso_2)
  if (!COUNTRIES.length) COUNTRIES.push(SHOP_COUNTRY)
  const ZONE_NAME = found?.name || region.name

  // Store: its currency, default channel and region (compared before
  // updating, so a second run writes nothing)
  const [store] = await storeModule.listStores({}, { relations: ["supported_currencies"] })
  const storeName = process.env.STORE_NAME || store.name
  const currencies = (store.supported_currencies || []).map((c: any) => c.currency_code)
  if (
    !currencies.includes(CURRENCY) ||
    store.default_sales_channel_id !== channel.id ||
    store.default_region_id !== region.id ||
    store.name !== storeName
  ) {
    await updateStoresWorkflow(container).run({
      input: {
        selector: { id: store.id },
        update: {
          name: storeName,
          supported_currencies: [{ currency_code: CURRENCY, is_default: true }],
          default_sales_channel_id: channel.id,
          default_region_id: region.id,
        },
      },
    })
    created.push("store settings")
  }

  // Tax regions (system provider, no rates: prices are what the shopper pays)
  const taxRegions = await taxModule.listTaxRegions({ country_code: COUNTRIES })
  const haveTax = new Set(taxRegions.filter((t: any) => !t.parent_id).map((t: any) => t.country_code))
  const missingTax = COUNTRIES.filter((c) => !haveTax.has(c))
  if (missingTax.length) {
    await createTaxRegionsWorkflow(container).run({
      input: missingTax.map((country_code) => ({ country_code, provider_id: "tp_system" })),
    })
    created.push("tax regions")
  }

  // Stock location, served by the manual fulfillment provider
  let [location] = await stockLocationModule.listStockLocations({ name: LOCATION_NAME })
  if (!location) {
    const { result } = await createStockLocationsWorkflow(container).run({
      input: { locations: [{ name: LOCATION_NAME, address: { address_1: "Main warehouse", country_code: COUNTRIES[0] } }] },
    })
    location = result[0]
    created.push("stock location")
  }
  const {
    data: [locationLinks],
  } = await query.graph({
    entity: "stock_location",
    fields: ["id", "fulfillment_providers.id", "fulfillment_sets.id", "sales_channels.id"],
    filters: { id: location.id },
  })
  if (!(locationLinks.fulfillment_providers || []).some((p: any) => p?.id === FULFILLMENT_PROVIDER)) {
    await link.create({
      [Modules.STOCK_LOCATION]: { stock_location_id: location.id },
      [Modules.FULFILLMENT]: { fulfillment_provider_id: FULFILLMENT_PROVIDER },
    })
    created.push("location's fulfillment provider")
  }
  if (!(locationLinks.sales_channels || []).some((c: any) => c?.id === channel.id)) {
    await linkSalesChannelsToStockLocationWorkflow(container).run({ input: { id: location.id, add: [channel.id] } })
    created.push("location's sales channel")
  }

  // Shipping profile, fulfillment set with one service zone, shipping option
  let [profile] = await fulfillmentModule.listShippingProfiles({ type: "default" })
  if (!profile) {
    const { result } = await createShippingProfilesWorkflow(container).run({
      input: { data: [{ name: "Default shipping profile", type: "default" }] },
    })
    profile = result[0]
    created.push("shipping profile")
  }
  let [fulfillmentSet] = await fulfillmentModule.listFulfillmentSets(
    { name: FULFILLMENT_SET_NAME },
    { relations: ["service_zones"] }
  )
  if (!fulfillmentSet) {
    fulfillmentSet = await fulfillmentModule.createFulfillmentSets({
      name: FULFILLMENT_SET_NAME,
      type: "shipping",
      service_zones: [
        { name: ZONE_NAME, geo_zones: COUNTRIES.map((country_code) => ({ country_code, type: "country" })) },
      ],
    })
    created.push("fulfillment set")
  }
  if (!(locationLinks.fulfillment_sets || []).some((s: any) => s?.id === fulfillmentSet.id)) {
    await link.create({
      [Modules.STOCK_LOCATION]: { stock_location_id: location.id },
      [Modules.FULFILLMENT]: { fulfillment_set_id: fulfillmentSet.id },
    })
    created.push("location's fulfillment set")
  }
  const [option] = await fulfillmentModule.listShippingOptions({ name: SHIPPING_OPTION_NAME })
  if (!option) {
    await createShippingOptionsWorkflow(container).run({
      input: [
        {
          name: SHIPPING_OPTION_NAME,
          price_type: "flat",
          provider_id: FULFILLMENT_PROVIDER,
          service_zone_id: fulfillmentSet.service_zones[0].id,
          shipping_profile_id: profile.id,
          type: { label: "Standard", description: "Delivered in 2-3 days.", code: "standard" },
          prices: [
            { currency_code: CURRENCY, amount: 5 },
            { region_id: region.id, amount: 5 },
          ],
          rules: [
            { attribute: "enabled_in_store", value: "true", operator: "eq" },
            { attribute: "is_return", value: "false", operator: "eq" },
          ],
        },
      ] as any,
    })
    created.push("shipping option")
  }

  // Publishable API key for the storefront, limited to the sales channel
  let [apiKey] = await apiKeyModule.listApiKeys({ title: API_KEY_TITLE, type: "publishable", revoked_at: null })
  if (!apiKey) {
    const { result } = await createApiKeysWorkflow(container).run({
      input: { api_keys: [{ title: API_KEY_TITLE, type: "publishable", created_by: "" }] },
    })
    apiKey = result[0]
    created.push("publishable API key")
  }
  const {
    data: [keyLinks],
  } = await query.graph({ entity: "api_key", fields: ["id", "sales_channels.id"], filters: { id: apiKey.id } })
  if (!(keyLinks.sales_channels || []).some((c: any) => c?.id === channel.id)) {
    await linkSalesChannelsToApiKeyWorkflow(container).run({ input: { id: apiKey.id, add: [channel.id] } })
    created.push("key's sales channel")
  }

  // A product with stock
  let [product] = await productModule.listProducts({ handle: PRODUCT_HANDLE })
  if (!product) {
    await createProductsWorkflow(container).run({
      input: {
        products: [
          {
            title: "Enamel camp mug",
            handle: PRODUCT_HANDLE,
            subtitle: "Holds 350 ml, survives the campfire",
            description:
              "A white enamel mug with a navy rim. Light, unbreakable and happy on a stove: the mug for coffee outdoors.",
            status: ProductStatus.PUBLISHED,
            shipping_profile_id: profile.id,
            options: [{ title: "Colour", values: ["Navy rim"] }],
            variants: [
              {
                title: "Navy rim",
                sku: "MUG-NAVY",
                manage_inventory: true,
                options: { Colour: "Navy rim" },
                prices: [{ amount: 12, currency_code: CURRENCY }],
              },
            ],
            sales_channels: [{ id: channel.id }],
          },
        ],
      } as any,
    })
    created.push("product")
  }
  const { data: variants } = await query.graph({
    entity: "product_variant",
    fields: ["id", "inventory_items.inventory_item_id", "inventory_items.inventory.location_levels.location_id"],
    filters: { product_id: (await productModule.listProducts({ handle: PRODUCT_HANDLE }))[0].id },
  })
  const levels: any[] = []
  for (const variant of variants) {
    for (const item of variant.inventory_items || []) {
      const at = (item.inventory?.location_levels || []).map((l: any) => l.location_id)
      if (!at.includes(location.id)) {
        levels.push({ inventory_item_id: item.inventory_item_id, location_id: location.id, stocked_quantity: STOCK })
      }
    }
  }
  if (levels.length) {
    await createInventoryLevelsWorkflow(container).run({ input: { inventory_levels: levels } })
    created.push("stock")
  }

  // The storefront reads the token from the persistent volume.
  const stateDir = path.join(process.env.APP_DIR || "/data/app", "state")
  fs.mkdirSync(stateDir, { recursive: true })
  const keyFile = path.join(stateDir, "publishable-key")
  const current = fs.existsSync(keyFile) ? fs.readFileSync(keyFile, "utf8") : null
  if (current !== apiKey.token) {
    fs.writeFileSync(keyFile + ".tmp", apiKey.token)
    fs.renameSync(keyFile + ".tmp", keyFile)
  }

  logger.info(created.length ? `seed: created ${created.join(", ")}` : "seed: nothing to do")
}
