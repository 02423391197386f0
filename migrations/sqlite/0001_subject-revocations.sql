ALTER TABLE `revocations` ADD `subject` text;--> statement-breakpoint
ALTER TABLE `revocations` ADD `issued_before` integer;--> statement-breakpoint
CREATE INDEX `revocations_subject_idx` ON `revocations` (`subject`) WHERE "revocations"."subject" is not null;