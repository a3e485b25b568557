import { Migration } from "@medusajs/framework/mikro-orm/migrations"

export class Migration20261203120000 extends Migration {
  async up(): Promise<void> {
    this.addSql(
      `create table if not exists "loyalty_point" ("id" text not null, "customer_email" text not null, ` +
        `"points" integer not null default 0, "created_at" timestamptz not null default now(), ` +
        `"updated_at" timestamptz not null default now(), "deleted_at" timestamptz null, ` +
        `constraint "loyalty_point_pkey" primary key ("id"));`
    )
  }

  async down(): Promise<void> {
    this.addSql(`drop table if exists "loyalty_point" cascade;`)
  }
}
