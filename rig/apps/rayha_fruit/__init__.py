"""The rig's own fruit-stand Serve app (see rayha_fruit.app)."""
