/**
 * The iPXE checker (tests/support/ipxe.ts) that every generated boot script
 * goes through: it accepts real-world scripts and refuses each kind of
 * broken one, naming the line.
 */
import { describe, expect, it } from "vitest";
import { assertValidIpxe, checkIpxe } from "../support/ipxe";

const GOOD = `#!ipxe
# a comment
dhcp || goto failed
set base http://boot.example:8080
echo -n Booting \${net0/mac:hexhyp} from \${base} ...
kernel --name kernel \${base}/vmlinuz initrd=initrd console=ttyS0,115200 root="live:http://x/rootfs" ds=nocloud-net;s=\${base}/ci/ || goto failed
initrd -n initrd \${base}/initrd.img || goto failed
imgargs kernel quiet
isset \${next-server} && echo next server \${next-server}
iseq \${platform} efi && echo efi ; echo done
boot || goto failed
:failed
echo Boot failed
imgfree
sleep 5
chain --replace --autofree http://boot.example:8080/boot/v1/bootscript?mac=\${net0/mac}&retry=1 || goto give-up
:give-up prompt --key 0x02 --timeout 2000 Press Ctrl-B for the shell || reboot
shell
exit 1
`;

const lines = (...l: string[]) => `#!ipxe\n${l.join("\n")}\n`;

/** The messages for `script`, for matching. */
const messages = (script: string, opts = {}) => checkIpxe(script, opts).map((p) => `${p.line}: ${p.message}`);

describe("iPXE checker: accepts", () => {
  it("a script using labels, options, settings, chaining and comments", () => {
    expect(checkIpxe(GOOD, { requireFallbacks: true })).toEqual([]);
    expect(() => assertValidIpxe(GOOD)).not.toThrow();
  });

  it("backslash continuations, CRLF line ends and a #!gpxe header", () => {
    expect(checkIpxe("#!gpxe\r\nkernel http://x/vmlinuz \\\r\n  quiet\r\nboot\r\n")).toEqual([]);
  });

  it("a comment that starts mid-line (everything after it is ignored)", () => {
    expect(checkIpxe(lines("echo hello # this || is && not ; parsed"))).toEqual([]);
  });

  it("options after -- as plain arguments", () => {
    expect(checkIpxe(lines("echo -- -n is printed"))).toEqual([]);
  });
});

describe("iPXE checker: refuses", () => {
  const cases: [string, string, RegExp, object?][] = [
    ["a missing header", "kernel http://x/vmlinuz\nboot\n", /^1: the first line must be #!ipxe/],
    ["a header without whitespace after it", "#!ipxekernel\n", /first line must be #!ipxe/],
    ["an unknown command", lines("kernal http://x/vmlinuz"), /^2: unknown command `kernal`/],
    ["a goto without its label", lines("goto nowhere", ":somewhere"), /^2: goto nowhere: no label :nowhere/],
    ["a duplicate label", lines(":a", ":a"), /^3: label :a is also on line 2/],
    ["an empty label", lines(": echo x"), /a label needs a name/],
    ["a trailing ||", lines("kernel http://x/vmlinuz ||"), /nothing after \|\|/],
    [
      "an empty command between terminators",
      lines("kernel http://x/vmlinuz || || goto a", ":a"),
      /empty command/,
    ],
    [`a \${ without its }`, lines(`echo \${net0/mac`), /has a \$\{ without its closing \}/],
    [
      "a malformed setting reference",
      lines(`echo \${net0 mac}`),
      /\$\{net0\}` is not a setting|without its closing/,
    ],
    ["an unknown setting type", lines(`echo \${mac:colons}`), /\$\{mac:colons\}` is not a setting reference/],
    ["an unbalanced double quote", lines('kernel http://x/vmlinuz console="ttyS0'), /unbalanced "/],
    [
      "a URI that does not parse",
      lines("kernel http://[::1/vmlinuz"),
      /kernel: `http:\/\/\[::1\/vmlinuz` is not an absolute URI/,
    ],
    ["a relative or schemeless URI", lines("initrd initrd.img"), /`initrd.img` is not an absolute URI/],
    ["an unsupported scheme", lines("chain gopher://x/y"), /uses gopher:/],
    ["a missing URI", lines("kernel --name kernel"), /kernel takes 1 to any number of argument\(s\), got 0/],
    ["an unknown option", lines("kernel --nmae k http://x/vmlinuz"), /kernel: unknown option --nmae/],
    [
      "an option without its value",
      lines("kernel http://x/vmlinuz", "imgfetch --name"),
      /option --name needs a value/,
    ],
    ["a non-numeric sleep", lines("sleep five"), /sleep: `five` is not a whole number/],
    ["too many arguments", lines("sleep 1 2"), /sleep takes 1 argument\(s\), got 2/],
    ["a non-numeric timeout", lines("chain --timeout soon http://x/y"), /needs a number/],
    [
      "--replace on a fetch (only chain, imgexec and boot take it)",
      lines("kernel --replace http://x/vmlinuz"),
      /kernel: unknown option --replace/,
    ],
    ["a value on a flag", lines("chain --autofree=yes http://x/y"), /option --autofree takes no value/],
    ["an option where iPXE reads one (echo -x)", lines("echo -x marks the spot"), /echo: unknown option -x/],
    ["a control character", lines("echo a\x07b"), /control characters/],
    [
      "a ; inside a kernel command line (splits the command)",
      lines("kernel http://x/vmlinuz console=ttyS0 ; quiet"),
      /unknown command `quiet`/,
    ],
    [
      "a fetch with no fallback, in strict mode",
      lines("kernel http://x/vmlinuz", "boot || goto a", ":a"),
      /kernel can fail and is not followed by \|\|/,
      { requireFallbacks: true },
    ],
    [
      "a fallback commented out by a # word, in strict mode",
      lines("kernel http://x/vmlinuz #bad || goto a", ":a"),
      /kernel can fail and is not followed by \|\|/,
      { requireFallbacks: true },
    ],
    ["a bad setting name in set", lines("set a=b c"), /set: `a=b` is not a setting name/],
  ];

  for (const [what, script, expected, opts] of cases)
    it(what, () => {
      const found = messages(script, opts);
      expect(found.length, `no problem found in:\n${script}`).toBeGreaterThan(0);
      expect(
        found.some((m) => expected.test(m)),
        found.join("\n"),
      ).toBe(true);
    });

  it("lists every problem with its line when asserting", () => {
    expect(() => assertValidIpxe(lines("kernal x", "goto y"))).toThrow(
      /line 2: unknown command `kernal`[\s\S]*line 3: goto y: no label :y/,
    );
  });
});
