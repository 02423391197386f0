CREATE TABLE `boot_params` (
	`id` text PRIMARY KEY NOT NULL,
	`component_id` text,
	`role` text,
	`is_default` integer NOT NULL,
	`position` integer NOT NULL,
	`doc` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `boot_params_component_idx` ON `boot_params` (`component_id`);--> statement-breakpoint
CREATE INDEX `boot_params_role_idx` ON `boot_params` (`role`);--> statement-breakpoint
CREATE INDEX `boot_params_default_idx` ON `boot_params` (`is_default`) WHERE "boot_params"."is_default" = 1;--> statement-breakpoint
CREATE TABLE `components` (
	`id` text PRIMARY KEY NOT NULL,
	`nid` integer,
	`role` text,
	`enabled` integer NOT NULL,
	`position` integer NOT NULL,
	`doc` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `components_nid_idx` ON `components` (`nid`);--> statement-breakpoint
CREATE TABLE `group_members` (
	`group_name` text NOT NULL,
	`component_id` text NOT NULL,
	PRIMARY KEY(`group_name`, `component_id`)
);
--> statement-breakpoint
CREATE INDEX `group_members_component_idx` ON `group_members` (`component_id`);--> statement-breakpoint
CREATE TABLE `groups` (
	`name` text PRIMARY KEY NOT NULL,
	`position` integer NOT NULL,
	`doc` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `interface_addresses` (
	`interface_id` text NOT NULL,
	`address` text NOT NULL,
	PRIMARY KEY(`interface_id`, `address`)
);
--> statement-breakpoint
CREATE INDEX `interface_addresses_address_idx` ON `interface_addresses` (`address`);--> statement-breakpoint
CREATE TABLE `interfaces` (
	`id` text PRIMARY KEY NOT NULL,
	`component_id` text NOT NULL,
	`mac_address` text NOT NULL,
	`position` integer NOT NULL,
	`doc` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `interfaces_mac_idx` ON `interfaces` (`mac_address`,`component_id`);--> statement-breakpoint
CREATE INDEX `interfaces_component_idx` ON `interfaces` (`component_id`);--> statement-breakpoint
CREATE TABLE `partition_members` (
	`partition_name` text NOT NULL,
	`component_id` text NOT NULL,
	PRIMARY KEY(`partition_name`, `component_id`)
);
--> statement-breakpoint
CREATE INDEX `partition_members_component_idx` ON `partition_members` (`component_id`);--> statement-breakpoint
CREATE TABLE `partitions` (
	`name` text PRIMARY KEY NOT NULL,
	`position` integer NOT NULL,
	`doc` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `payloads` (
	`id` text PRIMARY KEY NOT NULL,
	`component_id` text,
	`group_name` text,
	`role` text,
	`position` integer NOT NULL,
	`doc` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `payloads_component_idx` ON `payloads` (`component_id`);--> statement-breakpoint
CREATE INDEX `payloads_group_idx` ON `payloads` (`group_name`);--> statement-breakpoint
CREATE INDEX `payloads_role_idx` ON `payloads` (`role`);--> statement-breakpoint
CREATE TABLE `replica_state` (
	`id` integer PRIMARY KEY NOT NULL,
	`position` integer DEFAULT 0 NOT NULL,
	`snapshot_at` text,
	`last_applied_at` text,
	`last_event_time` text,
	CONSTRAINT "replica_state_one_row" CHECK("replica_state"."id" = 1)
);
--> statement-breakpoint
CREATE TABLE `revocations` (
	`jti` text PRIMARY KEY NOT NULL,
	`expires_at` integer NOT NULL,
	`position` integer NOT NULL,
	`doc` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `revocations_expires_idx` ON `revocations` (`expires_at`);--> statement-breakpoint
CREATE TABLE `tombstones` (
	`resource` text NOT NULL,
	`id` text NOT NULL,
	`position` integer NOT NULL,
	PRIMARY KEY(`resource`, `id`)
);
