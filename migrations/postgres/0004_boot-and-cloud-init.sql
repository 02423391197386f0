CREATE SCHEMA "bss";
--> statement-breakpoint
CREATE SCHEMA "cloudinit";
--> statement-breakpoint
CREATE TABLE "bss"."boot_params" (
	"id" varchar(255) PRIMARY KEY NOT NULL,
	"component_id" varchar(255),
	"role" varchar(32),
	"is_default" boolean DEFAULT false NOT NULL,
	"kernel_uri" text NOT NULL,
	"initrd_uri" text DEFAULT '' NOT NULL,
	"cmdline" text DEFAULT '' NOT NULL,
	"etag" varchar(32) NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "boot_params_one_target" CHECK (("bss"."boot_params"."component_id" is not null)::int + ("bss"."boot_params"."role" is not null)::int + "bss"."boot_params"."is_default"::int = 1)
);
--> statement-breakpoint
CREATE TABLE "cloudinit"."payloads" (
	"id" varchar(255) PRIMARY KEY NOT NULL,
	"component_id" varchar(255),
	"group_name" varchar(255),
	"role" varchar(32),
	"user_data" text,
	"meta_data" jsonb,
	"vendor_data" text,
	"bind_to_address" boolean DEFAULT false NOT NULL,
	"etag" varchar(32) NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "payloads_one_target" CHECK (("cloudinit"."payloads"."component_id" is not null)::int + ("cloudinit"."payloads"."group_name" is not null)::int + ("cloudinit"."payloads"."role" is not null)::int = 1)
);
--> statement-breakpoint
CREATE UNIQUE INDEX "boot_params_component" ON "bss"."boot_params" USING btree ("component_id");--> statement-breakpoint
CREATE UNIQUE INDEX "boot_params_role" ON "bss"."boot_params" USING btree ("role");--> statement-breakpoint
CREATE UNIQUE INDEX "boot_params_default" ON "bss"."boot_params" USING btree ("is_default") WHERE "bss"."boot_params"."is_default";--> statement-breakpoint
CREATE UNIQUE INDEX "payloads_component" ON "cloudinit"."payloads" USING btree ("component_id");--> statement-breakpoint
CREATE UNIQUE INDEX "payloads_group" ON "cloudinit"."payloads" USING btree ("group_name");--> statement-breakpoint
CREATE UNIQUE INDEX "payloads_role" ON "cloudinit"."payloads" USING btree ("role");