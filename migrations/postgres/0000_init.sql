CREATE SCHEMA "smd";
--> statement-breakpoint
CREATE TABLE "smd"."components" (
	"id" varchar(255) PRIMARY KEY NOT NULL,
	"type" varchar(63) NOT NULL,
	"state" varchar(32) DEFAULT 'Empty' NOT NULL,
	"role" varchar(32),
	"sub_role" varchar(32),
	"nid" bigint,
	"parent_id" varchar(255),
	"rack" text,
	"unit" integer,
	"slot" integer,
	"sub_slot" integer,
	"flag" varchar(16) DEFAULT 'OK' NOT NULL,
	"arch" varchar(16),
	"net_type" varchar(16),
	"enabled" boolean DEFAULT true NOT NULL,
	"etag" varchar(32) NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "smd"."ethernet_interfaces" (
	"id" varchar(255) PRIMARY KEY NOT NULL,
	"component_id" varchar(255) NOT NULL,
	"mac_address" varchar(17) NOT NULL,
	"ip_addresses" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"description" text DEFAULT '' NOT NULL,
	"etag" varchar(32) NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "ethernet_interfaces_mac_unique" UNIQUE("mac_address")
);
--> statement-breakpoint
CREATE TABLE "smd"."group_members" (
	"group_name" varchar(255) NOT NULL,
	"component_id" varchar(255) NOT NULL,
	CONSTRAINT "group_members_group_name_component_id_pk" PRIMARY KEY("group_name","component_id")
);
--> statement-breakpoint
CREATE TABLE "smd"."groups" (
	"name" varchar(255) PRIMARY KEY NOT NULL,
	"description" text DEFAULT '' NOT NULL,
	"tags" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"etag" varchar(32) NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "smd"."partition_members" (
	"component_id" varchar(255) PRIMARY KEY NOT NULL,
	"partition_name" varchar(255) NOT NULL
);
--> statement-breakpoint
CREATE TABLE "smd"."partitions" (
	"name" varchar(255) PRIMARY KEY NOT NULL,
	"description" text DEFAULT '' NOT NULL,
	"tags" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"etag" varchar(32) NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "smd"."components" ADD CONSTRAINT "components_parent_id_components_id_fk" FOREIGN KEY ("parent_id") REFERENCES "smd"."components"("id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "smd"."ethernet_interfaces" ADD CONSTRAINT "ethernet_interfaces_component_id_components_id_fk" FOREIGN KEY ("component_id") REFERENCES "smd"."components"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "smd"."group_members" ADD CONSTRAINT "group_members_group_name_groups_name_fk" FOREIGN KEY ("group_name") REFERENCES "smd"."groups"("name") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "smd"."group_members" ADD CONSTRAINT "group_members_component_id_components_id_fk" FOREIGN KEY ("component_id") REFERENCES "smd"."components"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "smd"."partition_members" ADD CONSTRAINT "partition_members_component_id_components_id_fk" FOREIGN KEY ("component_id") REFERENCES "smd"."components"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "smd"."partition_members" ADD CONSTRAINT "partition_members_partition_name_partitions_name_fk" FOREIGN KEY ("partition_name") REFERENCES "smd"."partitions"("name") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "components_type_idx" ON "smd"."components" USING btree ("type");--> statement-breakpoint
CREATE INDEX "components_state_idx" ON "smd"."components" USING btree ("state");--> statement-breakpoint
CREATE INDEX "components_role_idx" ON "smd"."components" USING btree ("role");--> statement-breakpoint
CREATE INDEX "components_parent_idx" ON "smd"."components" USING btree ("parent_id");--> statement-breakpoint
CREATE INDEX "components_nid_idx" ON "smd"."components" USING btree ("nid");--> statement-breakpoint
CREATE INDEX "components_rack_idx" ON "smd"."components" USING btree ("rack");--> statement-breakpoint
CREATE INDEX "components_created_idx" ON "smd"."components" USING btree ("created_at");--> statement-breakpoint
CREATE INDEX "ethernet_interfaces_component_idx" ON "smd"."ethernet_interfaces" USING btree ("component_id");--> statement-breakpoint
CREATE INDEX "group_members_component_idx" ON "smd"."group_members" USING btree ("component_id");--> statement-breakpoint
CREATE INDEX "partition_members_partition_idx" ON "smd"."partition_members" USING btree ("partition_name");