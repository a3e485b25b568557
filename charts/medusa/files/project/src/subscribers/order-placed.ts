import type { SubscriberArgs, SubscriberConfig } from "@medusajs/framework"
import { ContainerRegistrationKeys, Modules } from "@medusajs/framework/utils"

// The platform's checkout check buys as checkout-check@<the store's host>,
// marks the order as its own and cancels it at once: no mail about its orders
// (the merchant would get one at every check). Both marks must be there, so a
// shopper cannot silence the mails of an order of their own.
const CHECK_MARK = "store-provisioner checkout check"

function isCheckoutCheck(order: { email?: string | null; metadata?: Record<string, unknown> | null }): boolean {
  return (order.email ?? "").toLowerCase().startsWith("checkout-check@") && order.metadata?.placed_by === CHECK_MARK
}

// An order placed: the customer's confirmation and the merchant's new-order
// mail, through the Notification Module (registered only when the store has a
// mail relay: without one, nothing claims a mail was sent).
export default async function orderPlaced({ event: { data }, container }: SubscriberArgs<{ id: string }>) {
  if (!process.env.STORE_MAIL_HOST) return
  const storeUrl = (process.env.STORE_URL ?? "").replace(/\/+$/, "")
  const query = container.resolve(ContainerRegistrationKeys.QUERY)
  const {
    data: [order],
  } = await query.graph({
    entity: "order",
    fields: ["id", "display_id", "email", "metadata", "currency_code", "total", "items.*", "shipping_address.*"],
    filters: { id: data.id },
  })
  if (!order || !order.email) return
  if (isCheckoutCheck(order)) {
    const logger = container.resolve(ContainerRegistrationKeys.LOGGER)
    logger.info(`order #${order.display_id}: no mail, it is the platform's checkout check`)
    return
  }

  const mail = {
    store_name: process.env.STORE_NAME || "Our shop",
    store_url: storeUrl,
    order_number: String(order.display_id),
    email: order.email,
    currency_code: order.currency_code,
    total: Number(order.total),
    items: (order.items ?? []).filter(Boolean).map((item) => ({
      // "Mug (Blue)" for a variant of its own name; "Mug" when the variant is the product.
      title:
        item!.product_title && item!.title && item!.product_title !== item!.title
          ? `${item!.product_title} (${item!.title})`
          : item!.product_title || item!.title,
      quantity: Number(item!.quantity),
      total: Number(item!.total),
    })),
    shipping_address: order.shipping_address ?? null,
  }
  const notifications = container.resolve(Modules.NOTIFICATION)
  const merchant = process.env.STORE_MERCHANT_EMAIL
  await notifications.createNotifications([
    { to: order.email, channel: "email", template: "order-confirmation", data: mail },
    ...(merchant ? [{ to: merchant, channel: "email", template: "order-new", data: mail }] : []),
  ])
}

export const config: SubscriberConfig = { event: "order.placed" }
