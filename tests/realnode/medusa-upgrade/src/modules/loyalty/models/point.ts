import { model } from "@medusajs/framework/utils"

// The next version of the store's project adds a table: its image brings a
// migration the previous image does not have.
const Point = model.define("loyalty_point", {
  id: model.id().primaryKey(),
  customer_email: model.text(),
  points: model.number().default(0),
})

export default Point
