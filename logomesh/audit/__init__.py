"""LogoMesh audit trail."""
