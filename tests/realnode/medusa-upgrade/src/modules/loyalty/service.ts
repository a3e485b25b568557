import { MedusaService } from "@medusajs/framework/utils"
import Point from "./models/point"

class LoyaltyModuleService extends MedusaService({ Point }) {}

export default LoyaltyModuleService
