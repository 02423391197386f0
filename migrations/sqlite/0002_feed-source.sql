ALTER TABLE `replica_state` ADD `source_id` text;--> statement-breakpoint
ALTER TABLE `replica_state` ADD `fed_by` text;--> statement-breakpoint
ALTER TABLE `replica_state` ADD `fed_at` text;