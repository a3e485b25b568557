import { AbstractNotificationProviderService, MedusaError } from "@medusajs/framework/utils"
import type { Logger, ProviderSendNotificationDTO, ProviderSendNotificationResultsDTO } from "@medusajs/framework/types"
import nodemailer, { type Transporter } from "nodemailer"
import { render } from "./templates"

// The platform's SMTP relay, from the store's Secret "store-mail" (the chart
// maps its keys to STORE_MAIL_*, stores/mail.py on the platform's side).
type Options = {
  host: string
  port: number
  security: "starttls" | "tls" | "none"
  username?: string
  password?: string
  from: string
}

type InjectedDependencies = { logger: Logger }

class SmtpNotificationService extends AbstractNotificationProviderService {
  static identifier = "smtp"

  protected logger_: Logger
  protected options_: Options
  protected transport_: Transporter

  static validateOptions(options: Record<string, unknown>) {
    for (const key of ["host", "port", "from"]) {
      if (!options[key]) {
        throw new MedusaError(MedusaError.Types.INVALID_DATA, `the SMTP notification provider needs ${key}`)
      }
    }
  }

  constructor({ logger }: InjectedDependencies, options: Options) {
    super()
    this.logger_ = logger
    this.options_ = options
    this.transport_ = nodemailer.createTransport({
      host: options.host,
      port: Number(options.port),
      // tls: TLS from the first byte; starttls: upgrade, and refuse to go on
      // without it; none: a relay on a private network, no TLS at all.
      secure: options.security === "tls",
      requireTLS: options.security === "starttls",
      ignoreTLS: options.security === "none",
      auth: options.username ? { user: options.username, pass: options.password ?? "" } : undefined,
      connectionTimeout: 15_000,
      greetingTimeout: 15_000,
      socketTimeout: 30_000,
    })
  }

  async send(notification: ProviderSendNotificationDTO): Promise<ProviderSendNotificationResultsDTO> {
    const mail = notification.content?.subject
      ? { subject: notification.content.subject, text: notification.content.text ?? "" }
      : render(notification.template, notification.data ?? {})
    const sent = await this.transport_.sendMail({
      from: this.options_.from,
      to: notification.to,
      subject: mail.subject,
      text: mail.text,
    })
    this.logger_.info(`mail "${mail.subject}" sent to ${notification.to} (${sent.messageId})`)
    return { id: sent.messageId }
  }
}

export default SmtpNotificationService
