// Key Vault (RBAC authorization) for the alert secrets. A secret is created only when its value is
// given; the app setting is then a Key Vault reference resolved with the Guard's identity.
// Values are @secure() and never appear in an output; outputs carry only secret URIs.
param location string
param tags object
@maxLength(24)
param name string
@secure()
param teamsWebhookUrl string
@secure()
param smtpPassword string

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  // checkov:skip=CKV_AZURE_109: the Functions platform resolves the Key Vault references over the public endpoint (no VNet integration in this template), so a firewall would break the alert secrets; access is RBAC-only, Key Vault Secrets User for the Guard's identity alone
  // checkov:skip=CKV_AZURE_189: same reason as CKV_AZURE_109: public network access is needed for Key Vault references without VNet integration; RBAC-only, purge protection on
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: tenant().tenantId
    sku: { family: 'A', name: 'standard' }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: true
    publicNetworkAccess: 'Enabled'
  }
}

resource teamsSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(teamsWebhookUrl)) {
  // checkov:skip=CKV_AZURE_114: false positive: contentType is set (text/plain) below; checkov does not look inside a conditional (`if`) resource's body
  // checkov:skip=CKV_AZURE_41: the webhook URL is rotated by whoever owns the Teams workflow, not on a schedule; an expiry date would silently stop alert delivery (an expired secret fails the Key Vault reference)
  parent: vault
  name: 'guard-teams-webhook-url'
  properties: {
    value: teamsWebhookUrl
    contentType: 'text/plain'
  }
}

resource smtpSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(smtpPassword)) {
  // checkov:skip=CKV_AZURE_114: false positive: contentType is set (text/plain) below; checkov does not look inside a conditional (`if`) resource's body
  // checkov:skip=CKV_AZURE_41: the SMTP password's lifetime is the mail relay's policy; an expiry date here would silently stop email alerts (an expired secret fails the Key Vault reference)
  parent: vault
  name: 'guard-smtp-password'
  properties: {
    value: smtpPassword
    contentType: 'text/plain'
  }
}

output name string = vault.name
// Versionless URIs, so a rotated secret is picked up without redeploying.
output teamsWebhookSecretUri string = !empty(teamsWebhookUrl) ? '${vault.properties.vaultUri}secrets/guard-teams-webhook-url' : ''
output smtpPasswordSecretUri string = !empty(smtpPassword) ? '${vault.properties.vaultUri}secrets/guard-smtp-password' : ''
