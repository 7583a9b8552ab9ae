// Optional Event Grid custom topic for the Guard's drift events (README "Drift events (Event Grid)"):
// CloudEvents 1.0 input schema, Entra-only publishing (local keys disabled), and EventGrid Data Sender
// for the Guard's identity on this topic only. Subscribe Logic Apps, Functions, webhooks or a SIEM
// to it; the Guard sets GUARD_EVENTGRID_TOPIC_ENDPOINT to the endpoint output.
param location string
param tags object
param name string
param guardPrincipalId string

resource topic 'Microsoft.EventGrid/topics@2025-02-15' = {
  // checkov:skip=CKV_AZURE_193: the Guard publishes from Flex Consumption without VNet integration, so the topic endpoint must be public; publishing is Entra-only (disableLocalAuth) and only the Guard holds EventGrid Data Sender
  // checkov:skip=CKV_AZURE_191: a topic identity only serves managed-identity delivery to destinations, which the operator configures with the event subscriptions they create; none is created here, so an identity would be an unused directory object
  name: name
  location: location
  tags: tags
  properties: {
    inputSchema: 'CloudEventSchemaV1_0'
    disableLocalAuth: true
    publicNetworkAccess: 'Enabled'
    minimumTlsVersionAllowed: '1.2'
  }
}

// EventGrid Data Sender (Microsoft.EventGrid/events/send/action), scoped to this topic.
resource guardSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(topic.id, guardPrincipalId, 'd5a91429-5739-47e2-a06b-3470a27159e7')
  scope: topic
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'd5a91429-5739-47e2-a06b-3470a27159e7')
    principalId: guardPrincipalId
    principalType: 'ServicePrincipal'
  }
}

output id string = topic.id
output name string = topic.name
output endpoint string = topic.properties.endpoint
