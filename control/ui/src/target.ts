/** How a boot parameters or payload target reads: the default, a role, a group or one component. */
export function targetOf(spec: {
  isDefault?: boolean | null;
  role?: string | null;
  group?: string | null;
  componentId?: string | null;
}): string {
  if (spec.isDefault) return "cluster default";
  if (spec.role) return `role ${spec.role}`;
  if (spec.group) return `group ${spec.group}`;
  return spec.componentId ? `component ${spec.componentId}` : "—";
}

/** A node as the boot script route takes it: a MAC, a NID or a component id. */
export function nodeQuery(raw: string): { mac: string } | { nid: string } | { name: string } {
  const v = raw.trim();
  if (/^([0-9a-f]{2}[:-]){5}[0-9a-f]{2}$/i.test(v) || /^[0-9a-f]{12}$/i.test(v)) return { mac: v };
  if (/^\d+$/.test(v)) return { nid: v };
  return { name: v };
}
