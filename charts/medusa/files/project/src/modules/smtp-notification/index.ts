import { ModuleProvider, Modules } from "@medusajs/framework/utils"
import SmtpNotificationService from "./service"

// Medusa's Notification Module sends "email" notifications through this
// provider when medusa-config.ts registers it (STORE_MAIL_HOST set).
export default ModuleProvider(Modules.NOTIFICATION, { services: [SmtpNotificationService] })
