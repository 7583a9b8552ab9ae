// The Guard's own storage account: Functions host (AzureWebJobsStorage, identity-based), the Flex
// Consumption deployment package, the ledger tables, the work queues and Event Grid dead letters.
// Shared key access is disabled: every client authenticates with Microsoft Entra ID.
param location string
param tags object
@maxLength(24)
param name string
param containerNames array
param tableNames array
param queueNames array

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  // checkov:skip=CKV_AZURE_35: the Flex Consumption host, its deployment package download and Event Grid dead-lettering reach this account without a VNet; every caller authenticates with Entra ID (shared key disabled) and no container is public
  // checkov:skip=CKV_AZURE_59: same reason as CKV_AZURE_35; allowBlobPublicAccess is false, so public network access exposes no anonymous data
  // checkov:skip=CKV_AZURE_206: LRS on purpose: the ledger is re-derived by the next full scan against live ARM (losing it loses history, not protection), and LRS deploys in every Flex Consumption region
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: { name: 'Standard_LRS' }
  properties: {
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    allowBlobPublicAccess: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
    networkAcls: { defaultAction: 'Allow', bypass: 'AzureServices' }
  }
}

// Child resources as top-level declarations with `parent` (checkov's Bicep parser reads no loops
// nested inside a parent resource).
resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: account
  name: 'default'
}

resource containers 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = [for c in containerNames: {
  parent: blobService
  name: c
}]

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' = {
  parent: account
  name: 'default'
}

resource tables 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' = [for t in tableNames: {
  parent: tableService
  name: t
}]

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2023-05-01' = {
  parent: account
  name: 'default'
}

resource queues 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = [for q in queueNames: {
  parent: queueService
  name: q
}]

output name string = account.name
output id string = account.id
output blobEndpoint string = account.properties.primaryEndpoints.blob
output tableEndpoint string = account.properties.primaryEndpoints.table
output queueEndpoint string = account.properties.primaryEndpoints.queue
