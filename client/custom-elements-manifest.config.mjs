// Custom Elements Manifest analyzer config for the web component: `cd client && npx cem analyze --config
// custom-elements-manifest.config.mjs` writes custom-elements.json (tags, attributes, properties, events,
// slots, parts and CSS properties, from the classes and their JSDoc) beside this file.
export default {
  globs: ["src/components/**/*.ts"],
  exclude: ["src/**/*.test.ts"],
  outdir: ".",
  litelement: true,
  // package.json's "customElements" field is written by hand (the analyzer would rewrite the file).
  packagejson: false,
  dependencies: false,
  plugins: [
    {
      // Internal state (Lit `state: true` properties, `_`-prefixed, private) is not API: drop it.
      name: "protochat-manifest-cleanup",
      packageLinkPhase({ customElementsManifest }) {
        for (const mod of customElementsManifest.modules ?? []) {
          // ChatElement.define registers `class extends elementConstructor {}` under a name given at run time:
          // not an element of its own.
          mod.declarations = (mod.declarations ?? []).filter((d) => !d.name?.startsWith("anonymous_"));
          mod.exports = (mod.exports ?? []).filter(
            (e) => !(e.kind === "custom-element-definition" && e.declaration?.name?.startsWith("anonymous_")),
          );
          for (const decl of mod.declarations) {
            if (decl.members) decl.members = decl.members.filter((m) => !(m.name?.startsWith("_") || m.privacy === "private"));
            if (decl.attributes) decl.attributes = decl.attributes.filter((a) => !a.fieldName?.startsWith("_"));
          }
        }
      },
    },
  ],
};
