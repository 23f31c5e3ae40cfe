import NimbusIdentity

await IdentityMain.run()
