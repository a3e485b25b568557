// The text of the shop's mails. Plain text: it reads the same in every mail
// client, and nothing in it can break out into markup.

export type OrderMailData = {
  store_name: string
  store_url: string
  order_number: string
  email: string
  currency_code: string
  total: number
  items: { title: string; quantity: number; total: number }[]
  shipping_address?: {
    first_name?: string | null
    last_name?: string | null
    address_1?: string | null
    postal_code?: string | null
    city?: string | null
    country_code?: string | null
  } | null
}

export type RenderedMail = { subject: string; text: string }

export function money(amount: number, currency: string): string {
  return new Intl.NumberFormat("en-GB", { style: "currency", currency: currency.toUpperCase() }).format(Number(amount))
}

function lines(order: OrderMailData): string[] {
  const items = order.items.map(
    (item) => `  ${item.quantity} × ${item.title}  ${money(item.total, order.currency_code)}`
  )
  const a = order.shipping_address
  const address = a
    ? [
        `${a.first_name ?? ""} ${a.last_name ?? ""}`.trim(),
        a.address_1 ?? "",
        `${a.postal_code ?? ""} ${a.city ?? ""}`.trim(),
        (a.country_code ?? "").toUpperCase(),
      ].filter(Boolean)
    : []
  return [
    ...items,
    "",
    `Total: ${money(order.total, order.currency_code)}, paid in cash on delivery`,
    ...(address.length ? ["", "Delivered to:", ...address.map((line) => `  ${line}`)] : []),
  ]
}

const TEMPLATES: Record<string, (order: OrderMailData) => RenderedMail> = {
  // To the customer, when the order is placed.
  "order-confirmation": (order) => ({
    subject: `Your ${order.store_name} order #${order.order_number}`,
    text: [
      `Thank you for your order at ${order.store_name}.`,
      "",
      `Order #${order.order_number}`,
      ...lines(order),
      "",
      `${order.store_name} – ${order.store_url}`,
    ].join("\n"),
  }),
  // To the merchant (the store's admin address), when an order comes in.
  "order-new": (order) => ({
    subject: `New order #${order.order_number} at ${order.store_name}`,
    text: [
      `${order.email} placed order #${order.order_number}.`,
      "",
      ...lines(order),
      "",
      `See it in the admin: ${order.store_url}/app/orders`,
    ].join("\n"),
  }),
}

export function render(template: string, data: Record<string, unknown>): RenderedMail {
  const build = TEMPLATES[template]
  if (!build) throw new Error(`no mail template named ${template}`)
  return build(data as unknown as OrderMailData)
}
