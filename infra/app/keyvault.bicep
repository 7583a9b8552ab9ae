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
  parent: vault
  name: 'guard-teams-webhook-url'
  properties: { value: teamsWebhookUrl, contentType: 'text/plain' }
}

resource smtpSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(smtpPassword)) {
  parent: vault
  name: 'guard-smtp-password'
  properties: { value: smtpPassword, contentType: 'text/plain' }
}

output name string = vault.name
// Versionless URIs, so a rotated secret is picked up without redeploying.
output teamsWebhookSecretUri string = !empty(teamsWebhookUrl) ? '${vault.properties.vaultUri}secrets/guard-teams-webhook-url' : ''
output smtpPasswordSecretUri string = !empty(smtpPassword) ? '${vault.properties.vaultUri}secrets/guard-smtp-password' : ''
