/**
 * Artifacts labelled for this edge's site (`site=<CHAMICORE_EDGE_SITE>`),
 * which it mirrors besides those its boot parameters name: an operator
 * stages the next image on every rack before any boot parameters point at
 * it, so the switch-over boots from the racks' disks. Asked of the control
 * plane at start and every `everyMs`; with the uplink down the last answer
 * stands.
 */
import type { ArtifactRef } from "../../functions/artifacts/schemas";
import type { Logger } from "../../shared/log";
import { Sleeper } from "../../shared/sleeper";
import type { ControlClient } from "../control-client";

/** The most a site stages at once; more are ignored (and logged). */
const MAX_LABELLED = 1000;

export class SiteArtifacts {
  private current: ArtifactRef[] = [];
  private stopped = false;
  private readonly sleeper = new Sleeper();
  private loop: Promise<void> | undefined;

  constructor(
    private readonly o: {
      control: Pick<ControlClient, "api" | "call">;
      site: string;
      everyMs: number;
      logger?: Logger;
      /** Called when the list changed. */
      onChange: () => void;
    },
  ) {}

  /** The labelled artifacts whose content is somewhere to fetch from. */
  refs(): ArtifactRef[] {
    return this.current;
  }

  start() {
    this.loop ??= (async () => {
      while (!this.stopped) {
        await this.refresh();
        await this.sleeper.sleep(this.o.everyMs);
      }
    })();
  }

  /**
   * Ends the loop. A look in flight is not waited for: with the control plane
   * unreachable it could hold a stop for the request's whole timeout, and its
   * answer changes nothing but this list.
   */
  stop() {
    this.stopped = true;
    this.sleeper.wake();
  }

  /** One look at the control plane; a failure keeps the last answer. */
  async refresh(): Promise<void> {
    try {
      const { control } = this.o;
      const page = await control.call(
        control.api.GET("/boot/v1/artifacts", {
          params: {
            query: {
              label: `site=${this.o.site}`,
              limit: String(MAX_LABELLED),
              sort: "name",
              fields: "name,sha256,size,url,stored",
            },
          },
        }),
      );
      const next = page.items.flatMap(({ spec: a }): ArtifactRef[] =>
        a.name === undefined || a.sha256 === undefined || a.size === undefined || a.url === undefined
          ? []
          : // Registered for an upload that has not come yet: nothing to fetch.
            a.url === null && !a.stored
            ? []
            : [{ artifact: a.name, sha256: a.sha256, size: a.size, url: a.url }],
      );
      if (next.length >= MAX_LABELLED)
        this.o.logger?.warn("more artifacts labelled for this site than an edge stages", {
          max: MAX_LABELLED,
        });
      if (this.stopped) return;
      const same =
        next.length === this.current.length && next.every((r, i) => r.sha256 === this.current[i]!.sha256);
      this.current = next;
      if (!same) this.o.onChange();
    } catch (e) {
      this.o.logger?.debug("cannot list the artifacts labelled for this site", { err: (e as Error).message });
    }
  }
}
