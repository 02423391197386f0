CREATE SCHEMA "auth";
--> statement-breakpoint
CREATE TABLE "auth"."casbin_rules" (
	"id" varchar(32) PRIMARY KEY NOT NULL,
	"ptype" varchar(8) NOT NULL,
	"v0" varchar(255) NOT NULL,
	"v1" varchar(255) NOT NULL,
	"v2" varchar(255) DEFAULT '' NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "auth"."credentials" (
	"id" varchar(255) PRIMARY KEY NOT NULL,
	"name" varchar(255) NOT NULL,
	"type" varchar(16) NOT NULL,
	"username" varchar(255) NOT NULL,
	"sealed_secret" text NOT NULL,
	"tags" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"etag" varchar(32) NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "auth"."revocations" (
	"jti" varchar(255) PRIMARY KEY NOT NULL,
	"reason" text DEFAULT '' NOT NULL,
	"expires_at" timestamp (3) with time zone NOT NULL,
	"etag" varchar(32) NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "auth"."service_accounts" (
	"id" varchar(255) PRIMARY KEY NOT NULL,
	"description" text DEFAULT '' NOT NULL,
	"scopes" jsonb,
	"enabled" boolean DEFAULT true NOT NULL,
	"secret_hash" text NOT NULL,
	"etag" varchar(32) NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "auth"."signing_keys" (
	"kid" varchar(64) PRIMARY KEY NOT NULL,
	"alg" varchar(8) NOT NULL,
	"public_jwk" jsonb NOT NULL,
	"sealed_private_jwk" text NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"retired_at" timestamp (3) with time zone,
	"published_until" timestamp (3) with time zone
);
--> statement-breakpoint
CREATE UNIQUE INDEX "casbin_rules_line" ON "auth"."casbin_rules" USING btree ("ptype","v0","v1","v2");--> statement-breakpoint
CREATE INDEX "casbin_rules_v1" ON "auth"."casbin_rules" USING btree ("v1");--> statement-breakpoint
CREATE INDEX "credentials_tags_idx" ON "auth"."credentials" USING gin ("tags");--> statement-breakpoint
CREATE INDEX "revocations_expires_idx" ON "auth"."revocations" USING btree ("expires_at");--> statement-breakpoint
CREATE UNIQUE INDEX "signing_keys_one_active" ON "auth"."signing_keys" USING btree ((true)) WHERE "auth"."signing_keys"."retired_at" is null;